/** One category of the demo shop: its name, typical price and the nouns its item titles use. */
export interface CategorySpec {
  name: string;
  medianPrice: number;
  nouns: readonly string[];
}

const DEPARTMENTS: ReadonlyArray<readonly CategorySpec[]> = [
  [
    { name: 'electronics.audio', medianPrice: 80, nouns: ['Headphones', 'Earbuds', 'Speaker', 'Soundbar'] },
    { name: 'electronics.phones', medianPrice: 450, nouns: ['Smartphone', 'Phone'] },
    { name: 'electronics.laptops', medianPrice: 900, nouns: ['Laptop', 'Notebook', 'Ultrabook'] },
    { name: 'electronics.cameras', medianPrice: 520, nouns: ['Camera', 'Action Cam', 'Lens'] },
    { name: 'electronics.accessories', medianPrice: 25, nouns: ['Charger', 'Cable', 'Case', 'Power Bank'] },
    { name: 'electronics.wearables', medianPrice: 180, nouns: ['Smartwatch', 'Fitness Band'] },
    { name: 'electronics.gaming', medianPrice: 60, nouns: ['Controller', 'Headset', 'Game'] },
  ],
  [
    { name: 'home.kitchen', medianPrice: 45, nouns: ['Pan', 'Knife Set', 'Kettle', 'Blender'] },
    { name: 'home.furniture', medianPrice: 260, nouns: ['Chair', 'Desk', 'Shelf', 'Sofa'] },
    { name: 'home.decor', medianPrice: 30, nouns: ['Vase', 'Frame', 'Candle', 'Mirror'] },
    { name: 'home.bedding', medianPrice: 55, nouns: ['Duvet', 'Pillow', 'Sheet Set'] },
    { name: 'home.lighting', medianPrice: 40, nouns: ['Lamp', 'Ceiling Light', 'LED Strip'] },
    { name: 'home.storage', medianPrice: 25, nouns: ['Box', 'Basket', 'Organizer'] },
  ],
  [
    { name: 'apparel.shoes', medianPrice: 85, nouns: ['Sneakers', 'Boots', 'Sandals'] },
    { name: 'apparel.womens', medianPrice: 45, nouns: ['Dress', 'Blouse', 'Jeans', 'Coat'] },
    { name: 'apparel.mens', medianPrice: 45, nouns: ['Shirt', 'Chinos', 'Jacket', 'Sweater'] },
    { name: 'apparel.kids', medianPrice: 25, nouns: ['T-Shirt', 'Hoodie', 'Pyjamas'] },
    { name: 'apparel.bags', medianPrice: 60, nouns: ['Backpack', 'Tote', 'Wallet'] },
    { name: 'apparel.accessories', medianPrice: 30, nouns: ['Scarf', 'Belt', 'Cap', 'Sunglasses'] },
  ],
  [
    { name: 'beauty.skincare', medianPrice: 28, nouns: ['Serum', 'Moisturizer', 'Cleanser'] },
    { name: 'beauty.makeup', medianPrice: 20, nouns: ['Lipstick', 'Mascara', 'Palette'] },
    { name: 'beauty.fragrance', medianPrice: 65, nouns: ['Eau de Parfum', 'Body Mist'] },
    { name: 'beauty.haircare', medianPrice: 15, nouns: ['Shampoo', 'Conditioner', 'Hair Oil'] },
  ],
  [
    { name: 'sports.fitness', medianPrice: 40, nouns: ['Dumbbells', 'Yoga Mat', 'Kettlebell'] },
    { name: 'sports.cycling', medianPrice: 220, nouns: ['Bike', 'Helmet', 'Bike Light'] },
    { name: 'sports.outdoor', medianPrice: 75, nouns: ['Tent', 'Sleeping Bag', 'Hiking Poles'] },
    { name: 'sports.running', medianPrice: 95, nouns: ['Running Shoes', 'Running Vest'] },
    { name: 'sports.swim', medianPrice: 35, nouns: ['Swimsuit', 'Goggles'] },
  ],
  [
    { name: 'toys.puzzles', medianPrice: 18, nouns: ['Puzzle', 'Brain Teaser'] },
    { name: 'toys.building', medianPrice: 45, nouns: ['Building Set', 'Blocks'] },
    { name: 'toys.dolls', medianPrice: 25, nouns: ['Doll', 'Plush Toy'] },
    { name: 'toys.outdoor', medianPrice: 40, nouns: ['Scooter', 'Water Blaster', 'Kite'] },
  ],
  [
    { name: 'books.fiction', medianPrice: 15, nouns: ['Novel', 'Thriller', 'Short Stories'] },
    { name: 'books.nonfiction', medianPrice: 20, nouns: ['Biography', 'Cookbook', 'History'] },
    { name: 'books.children', medianPrice: 10, nouns: ['Picture Book', 'Bedtime Stories'] },
    { name: 'books.comics', medianPrice: 12, nouns: ['Comic', 'Graphic Novel'] },
  ],
  [
    { name: 'grocery.coffee', medianPrice: 14, nouns: ['Coffee Beans', 'Ground Coffee', 'Capsules'] },
    { name: 'grocery.snacks', medianPrice: 5, nouns: ['Crisps', 'Chocolate', 'Nut Mix'] },
    { name: 'grocery.pantry', medianPrice: 8, nouns: ['Olive Oil', 'Pasta', 'Spice Set'] },
    { name: 'grocery.tea', medianPrice: 9, nouns: ['Green Tea', 'Black Tea', 'Herbal Tea'] },
  ],
  [
    { name: 'garden.tools', medianPrice: 35, nouns: ['Pruner', 'Hose', 'Rake'] },
    { name: 'garden.plants', medianPrice: 20, nouns: ['Seeds', 'Planter', 'Bulbs'] },
    { name: 'garden.furniture', medianPrice: 180, nouns: ['Garden Chair', 'Parasol', 'Lounger'] },
  ],
  [
    { name: 'pets.food', medianPrice: 30, nouns: ['Dog Food', 'Cat Food', 'Treats'] },
    { name: 'pets.toys', medianPrice: 12, nouns: ['Chew Toy', 'Ball', 'Scratcher'] },
    { name: 'pets.care', medianPrice: 18, nouns: ['Brush', 'Collar', 'Pet Bed'] },
  ],
  [
    { name: 'auto.parts', medianPrice: 60, nouns: ['Wiper Blades', 'Brake Pads', 'Battery'] },
    { name: 'auto.tools', medianPrice: 50, nouns: ['Jack', 'Socket Set', 'Tyre Inflator'] },
    { name: 'auto.care', medianPrice: 15, nouns: ['Car Wax', 'Cleaner', 'Air Freshener'] },
  ],
  [
    { name: 'office.supplies', medianPrice: 10, nouns: ['Pens', 'Stapler', 'Notebook'] },
    { name: 'office.paper', medianPrice: 12, nouns: ['Printer Paper', 'Sticky Notes'] },
    { name: 'office.electronics', medianPrice: 110, nouns: ['Printer', 'Monitor', 'Webcam'] },
  ],
];

/**
 * Categories interleaved across departments (first subcategory of each, then the second, …), so
 * that a shop with 20 categories still spans every department instead of being all electronics.
 */
export const CATEGORY_SPECS: readonly CategorySpec[] = (() => {
  const ordered: CategorySpec[] = [];
  const longest = Math.max(...DEPARTMENTS.map((department) => department.length));
  for (let position = 0; position < longest; position++) {
    for (const department of DEPARTMENTS) if (position < department.length) ordered.push(department[position]);
  }
  return ordered;
})();

export function departmentOf(categoryName: string): string {
  return categoryName.slice(0, categoryName.indexOf('.'));
}

export const TITLE_ADJECTIVES = ['Classic', 'Pro', 'Compact', 'Premium', 'Essential', 'Ultra', 'Eco', 'Smart', 'Everyday', 'Deluxe', 'Mini', 'Max'] as const;

/** Brand names are built from these syllables, two or three at a time. */
export const BRAND_SYLLABLES = ['nor', 'va', 'lux', 'tek', 'ora', 'zen', 'kai', 'mo', 'ri', 'sol', 'tra', 'vel', 'bri', 'do', 'fen', 'gal', 'hex', 'io', 'jun', 'ka'] as const;
